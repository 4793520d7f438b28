"""The QGIS plugin object: registers the debrismap Processing provider and nothing else."""

from qgis.core import QgsApplication

from .provider import DebrismapProvider


class DebrismapPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None

    def initProcessing(self):
        if self.provider is not None:  # the GUI calls initGui, qgis_process initProcessing: register once
            return
        self.provider = DebrismapProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
