"""debrismap: find debris piles in VHR satellite imagery and map their density."""

__version__ = "0.1.0"
