"""Map controls and panes: legend, metric scale bar, attribution, unit click, z-order.

The layers of a map sit in panes stacked from the bottom: unit fills, elderly density,
the network context, then service areas, gaps, stations and developments (Leaflet's
overlay pane) and markers. A click anywhere on the district map opens the popup of the
unit under the point (:class:`UnitClick`), whatever layers lie on top of it. The
legend shows a section only while one of its layers is on (:class:`Legend`).
"""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from offlinefolium.map import CustomPane
from offlinefolium.template import Template

from planning.report._web import _esc

#: Panes below Leaflet's overlay pane (z-index 400), from the bottom.
PANES = {"units": 350, "density": 370, "network": 390}


def add_panes(m: Any) -> None:
    """Create the panes of :data:`PANES` on map `m` (the density and network pass clicks)."""
    for name, z in PANES.items():
        CustomPane(f"planning-{name}", z_index=z, pointer_events=name == "units").add_to(m)


def pane(name: str) -> str:
    """Return the Leaflet pane name of one of :data:`PANES`."""
    return f"planning-{name}"


class Legend(MacroElement):  # type: ignore[misc]
    """A Leaflet control with one section per group of layers, shown while one is on.

    ``sections`` pairs escaped HTML with the map elements (layers) it describes;
    ``notes`` (escaped HTML) always show. Its height is capped to the map's, with a
    scroll bar, so that it never leaves the map frame.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .planning-legend { background: rgba(255,255,255,.92); padding: 6px 8px;
          font: 12px/1.35 system-ui, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
          border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3);
          overflow-y: auto; max-width: 260px; }
        .planning-legend h4 { margin: 4px 0 2px; font-size: 12px; }
        .planning-legend i { display: inline-block; width: 14px; height: 11px;
          margin-right: 5px; vertical-align: -1px; border: 1px solid rgba(0,0,0,.25); }
        .planning-legend i.dot { border-radius: 50%; width: 10px; height: 10px; }
        .planning-legend .empty { color: #777; font-style: italic; }
        .planning-legend .ramp, .planning-legend .ramp-l { display: flex; width: 210px; }
        .planning-legend .ramp span { flex: 1; height: 10px; border: 1px solid rgba(0,0,0,.15); }
        .planning-legend .ramp-l small { flex: 1; font-size: 10px; color: #444; }
        .site-rank { background: #111; color: #fff; border: 2px solid #fff;
          border-radius: 50%; width: 22px; height: 22px; line-height: 18px;
          text-align: center; font: bold 11px sans-serif; box-shadow: 0 0 3px #000; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var sections = [
            {%- for html, layers in this.sections %}
                [{{ html|tojson }}, [
                {%- for l in layers %}{{ l.get_name() }}{{ "," if not loop.last }}{% endfor -%}
                ]]{{ "," if not loop.last }}
            {%- endfor %}
            ];
            var control = L.control({position: {{ this.position|tojson }}});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", "planning-legend");
                div.innerHTML = sections.map(function (s, i) {
                    return '<div data-section="' + i + '">' + s[0] + "</div>";
                }).join("") + {{ this.notes|tojson }};
                L.DomEvent.disableScrollPropagation(div);
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            control.addTo(map);
            var div = control.getContainer();
            function update() {
                var shown = {{ "true" if this.notes else "false" }};
                sections.forEach(function (s, i) {
                    var on = s[1].some(function (l) { return map.hasLayer(l); });
                    var el = div.querySelector('[data-section="' + i + '"]');
                    el.style.display = on ? "" : "none";
                    shown = shown || on;
                });
                div.style.display = shown ? "" : "none";
                div.style.maxHeight = Math.max(60, map.getSize().y - 110) + "px";
            }
            map.on("overlayadd overlayremove resize", update);
            update();
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, sections: list[tuple[str, list[Any]]], notes: str, position: str = "bottomright"
    ) -> None:
        super().__init__()
        self._name = "Legend"
        self.sections = sections
        self.notes = notes
        self.position = position


class Attribution(MacroElement):  # type: ignore[misc]
    """Add the data attribution (escaped text) to the map's attribution control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = _esc(text)


class MetricScale(MacroElement):  # type: ignore[misc]
    """A scale bar in metres and kilometres only."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, maxWidth: 160,
            position: {{ this.position|tojson }}}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, position: str) -> None:
        super().__init__()
        self._name = "MetricScale"
        self.position = position


class UnitClick(MacroElement):  # type: ignore[misc]
    """Open the popup of the unit under a click, whatever layer took the click.

    The units' GeoJSON layer carries each unit's popup HTML (escaped) in the feature
    property ``popup``; the point is tested against the unit polygons (even–odd rule,
    holes and multipolygons included), after a check of their bounding boxes.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }}, units = {{ this.units.get_name() }};
            function inRing(x, y, ring) {
                var inside = false;
                for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
                    var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
                    if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) {
                        inside = !inside;
                    }
                }
                return inside;
            }
            function contains(geometry, x, y) {
                var polygons = geometry.type === "Polygon" ? [geometry.coordinates]
                    : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
                return polygons.some(function (rings) {
                    return rings.filter(function (r) { return inRing(x, y, r); }).length % 2 === 1;
                });
            }
            map.on("click", function (e) {
                var hit = null;
                units.eachLayer(function (l) {
                    if (!hit && l.getBounds().contains(e.latlng)
                            && contains(l.feature.geometry, e.latlng.lng, e.latlng.lat)) {
                        hit = l;
                    }
                });
                if (hit) {
                    L.popup({maxWidth: 320}).setLatLng(e.latlng)
                        .setContent(hit.feature.properties.popup).openOn(map);
                }
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, units: Any) -> None:
        super().__init__()
        self._name = "UnitClick"
        self.units = units


class FocusWithoutScroll(MacroElement):  # type: ignore[misc]
    """Focus the map on a click without scrolling the page that holds it.

    Leaflet focuses the map on the first mouse press (for keyboard panning); in a frame
    that is partly below the window, the browser then scrolls the outer page, the press
    and the release land on different points and the first click is lost.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (c) {
            c.focus = function () { HTMLElement.prototype.focus.call(c, {preventScroll: true}); };
        })({{ this._parent.get_name() }}.getContainer());
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "FocusWithoutScroll"


class SharedLines(MacroElement):  # type: ignore[misc]
    """A non-interactive line layer read from a script file shared by many pages.

    The file (see :func:`planning.report.maps.write_shared_network`) sets
    ``window.planningNetwork`` to a GeoJSON object; the page links it once in its head
    and draws it into `group` in the network pane, so that 128 unit maps share one copy.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <script src="{{ this.src }}"></script>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        if (window.planningNetwork) {
            L.geoJSON(window.planningNetwork, {pane: {{ this.pane|tojson }}, interactive: false,
                style: {{ this.style|tojson }}}).addTo({{ this.group.get_name() }});
        }
        {% endmacro %}
        """
    )

    def __init__(self, src: str, group: Any, style: dict[str, Any]) -> None:
        super().__init__()
        self._name = "SharedLines"
        self.src = _esc(src)
        self.group = group
        self.pane = pane("network")
        self.style = style
