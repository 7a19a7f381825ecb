"""mvhinerv: the MV-HiNeRV codec (model, training, quantisation, encode/decode) and the CLI."""

__version__ = "0.1.0"
