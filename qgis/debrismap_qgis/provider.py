"""The "debrismap" Processing provider: its setting (where the command is) and its algorithms."""

from __future__ import annotations

import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import CompareRuns, DensityHeatmap, DetectPiles, Timeline
from .runner import DebrismapCommandError, supports_verb
from .settings import EXECUTABLE_SETTING, debrismap_executable


class DebrismapProvider(QgsProcessingProvider):
    def load(self):
        try:
            from processing.core.ProcessingConfig import ProcessingConfig, Setting
        except ImportError:  # Processing plugin disabled: the provider still works from PATH
            pass
        else:
            ProcessingConfig.settingIcons[self.name()] = self.icon()
            ProcessingConfig.addSetting(Setting(
                self.name(), EXECUTABLE_SETTING,
                self.tr("debrismap command (empty: DEBRISMAP_EXECUTABLE, else found on PATH)"), "",
                valuetype=Setting.FILE))
            ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self):
        try:
            from processing.core.ProcessingConfig import ProcessingConfig
        except ImportError:
            return
        ProcessingConfig.removeSetting(EXECUTABLE_SETTING)

    def loadAlgorithms(self):
        for algorithm in (DetectPiles(), DensityHeatmap(), CompareRuns()):
            self.addAlgorithm(algorithm)
        # Timeline only where this debrismap has the verb (it came after the others).
        try:
            executable = debrismap_executable()
        except DebrismapCommandError:
            return
        if supports_verb(executable, "timeline"):
            self.addAlgorithm(Timeline())

    def id(self):
        return "debrismap"

    def name(self):
        return "debrismap"

    def longName(self):
        return "debrismap: debris piles in satellite imagery"

    def icon(self):
        return QIcon(os.path.join(os.path.dirname(__file__), "icon.svg"))

    def svgIconPath(self):
        return os.path.join(os.path.dirname(__file__), "icon.svg")
