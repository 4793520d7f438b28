"""debrismap for QGIS: a Processing provider that runs the `debrismap` command."""


def classFactory(iface):
    from .plugin import DebrismapPlugin

    return DebrismapPlugin(iface)
