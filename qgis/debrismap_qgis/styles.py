"""Load a run's files into the project when an algorithm finishes, each styled by its .qml.

The colour ramps of the raster styles are stored for a scale of 0..1 (density) or -1..1
(change) and stretched here to the layer's own top, chosen as debrismap's figures choose it
(scales.py), so that QGIS, heatmap.png and density_rgba.tif agree.
"""

from __future__ import annotations

import math
import os
from array import array

from qgis.core import (
    Qgis,
    QgsCategorizedSymbolRenderer,
    QgsColorRampShader,
    QgsMapLayerType,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingUtils,
    QgsRasterBandStats,
    QgsRendererCategory,
    QgsSingleBandPseudoColorRenderer,
    QgsStyle,
    QgsSymbol,
)

from .scales import change_top, density_top

STYLE_DIR = os.path.join(os.path.dirname(__file__), "qml")
MAX_SAMPLE_SIDE = 2048  # density rasters are coarse; a bigger one is read decimated for its scale
# Processing keeps only a C++ pointer to a layer's post-processor: hold the Python objects here,
# or they are freed before QGIS calls them.
_ALIVE: list = []


def style_path(name: str) -> str:
    return os.path.join(STYLE_DIR, f"{name}.qml")


def raster_values(layer) -> list:
    """Band 1's valid values (nodata and NaN left out), read whole or decimated."""
    provider = layer.dataProvider()
    width, height = provider.xSize(), provider.ySize()
    step = max(1, math.ceil(max(width, height) / MAX_SAMPLE_SIDE))
    block = provider.block(1, provider.extent(), max(1, width // step), max(1, height // step))
    codes = {Qgis.Float32: "f", Qgis.Float64: "d"}
    if block.dataType() in codes:
        values = array(codes[block.dataType()], bytes(block.data()))
    else:
        values = [block.value(i) for i in range(block.width() * block.height())]
    nodata = provider.sourceNoDataValue(1) if provider.sourceHasNoDataValue(1) else None
    return [v for v in values if math.isfinite(v) and v != nodata]


def stretch_ramp(layer, top: float, symmetric: bool) -> None:
    """Scale the loaded pseudocolour ramp (stored for a top of 1) to `top`."""
    renderer = layer.renderer()
    if not isinstance(renderer, QgsSingleBandPseudoColorRenderer):
        return
    shader_function = renderer.shader().rasterShaderFunction()
    items = []
    for item in shader_function.colorRampItemList():
        value = item.value * top
        items.append(QgsColorRampShader.ColorRampItem(value, item.color, f"{value:.4g}"))
    shader_function.setColorRampItemList(items)
    low = -top if symmetric else 0.0
    shader_function.setMinimumValue(low)
    shader_function.setMaximumValue(top)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(top)


def colour_by_category(layer, field: str) -> None:
    """One colour per value of `field` (e.g. first_seen dates), in order, from Viridis."""
    index = layer.fields().indexOf(field)
    if index < 0:
        return
    values = sorted(v for v in layer.uniqueValues(index) if v is not None)
    ramp = QgsStyle.defaultStyle().colorRamp("Viridis")
    categories = []
    for i, value in enumerate(values):
        symbol = QgsSymbol.defaultSymbol(layer.geometryType())
        if ramp is not None:
            symbol.setColor(ramp.color(i / max(1, len(values) - 1)))
        categories.append(QgsRendererCategory(value, symbol, str(value)))
    layer.setRenderer(QgsCategorizedSymbolRenderer(field, categories))


class StyleLayer(QgsProcessingLayerPostProcessorInterface):
    """Applies a .qml (and its scale) to a layer once Processing has added it to the project."""

    def __init__(self, style: str, scale: str | None = None, field: str | None = None):
        super().__init__()
        self.style, self.scale, self.field = style, scale, field

    def postProcessLayer(self, layer, context, feedback):
        if self.style:
            message, ok = layer.loadNamedStyle(style_path(self.style))
            if not ok:
                feedback.reportError(f"could not apply the {self.style} style: {message}")
        if self.scale == "density":
            stretch_ramp(layer, density_top(raster_values(layer)), symmetric=False)
        elif self.scale == "change":
            stats = layer.dataProvider().bandStatistics(1, QgsRasterBandStats.Min | QgsRasterBandStats.Max)
            stretch_ramp(layer, change_top(stats.minimumValue, stats.maximumValue), symmetric=True)
        if self.field:
            colour_by_category(layer, self.field)
        if layer.type() == QgsMapLayerType.VectorLayer:
            raise_to_top(context.project(), layer)
        layer.triggerRepaint()


def raise_to_top(project, layer) -> None:
    """Put a vector result above the rasters loaded with it (QGIS adds layers in file-name order)."""
    if project is None:
        return
    node = project.layerTreeRoot().findLayer(layer.id())
    if node is None:
        return
    parent = node.parent()
    if parent.children().index(node) == 0:
        return
    parent.insertChildNode(0, node.clone())
    parent.removeChildNode(node)


def load_on_completion(context, path: str, name: str, style: str, scale: str | None = None,
                       field: str | None = None, output_name: str = "") -> bool:
    """Queue `path` to be added to the project, styled, when the algorithm ends; False if absent."""
    if not os.path.exists(path):
        return False
    hint = (QgsProcessingUtils.LayerHint.Raster if path.lower().endswith((".tif", ".tiff"))
            else QgsProcessingUtils.LayerHint.Vector)
    details = QgsProcessingContext.LayerDetails(name, context.project(), output_name, hint)
    post = StyleLayer(style, scale, field)
    _ALIVE.append(post)
    details.setPostProcessor(post)
    context.addLayerToLoadOnCompletion(path, details)
    return True
