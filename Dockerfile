# CPU inference image: the base install (onnxruntime + rasterio + numpy + dask.distributed) and
# the [cluster] extra (dask-jobqueue, for `batch --cluster slurm`); no torch.
#   docker build -t debrismap .
#   docker run --rm -v "$PWD:/data" debrismap detect /data/city.tif --out /data/run
#   docker run --rm -v "$PWD:/data" debrismap batch /data/scenes --out /data/runs
# The same image is a Dask worker for `batch --scheduler` (the data at the same path everywhere):
#   docker run --rm --network host -v /data:/data --entrypoint dask debrismap worker tcp://HOST:8786 --nthreads 1
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    MPLBACKEND=Agg

RUN pip install --no-cache-dir uv

WORKDIR /opt/debrismap
# Dependencies first (cached layer), then the project itself.
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN uv sync --locked --extra cluster --no-install-project --no-editable
COPY src ./src
COPY models ./models
# the QGIS plugin ships inside the wheel (`debrismap qgis-plugin` builds its zip from it)
COPY qgis ./qgis
RUN uv sync --locked --extra cluster --no-editable \
    && .venv/bin/debrismap --version

ENV PATH="/opt/debrismap/.venv/bin:$PATH"
WORKDIR /data
ENTRYPOINT ["debrismap"]
CMD ["--help"]
