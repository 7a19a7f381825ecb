"""bitstream: the MV-HiNeRV file format (torch-free; numpy and constriction only)."""
