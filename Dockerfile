# CPU inference image: the base install only (onnxruntime + rasterio + numpy), no torch.
#   docker build -t debrismap .
#   docker run --rm -v "$PWD:/data" debrismap detect /data/city.tif --out /data/run
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
RUN uv sync --locked --no-install-project --no-editable
COPY src ./src
COPY models ./models
RUN uv sync --locked --no-editable \
    && .venv/bin/debrismap --version

ENV PATH="/opt/debrismap/.venv/bin:$PATH"
WORKDIR /data
ENTRYPOINT ["debrismap"]
CMD ["--help"]
