"""medialib: recorded workshop sessions in, captioned HLS lectures out.

The library is plain functions over typed records; it knows nothing of Prefect.
"""

__version__ = "0.1.0"
