# CUDA image for training and GPU inference: the [train] extra (torch, ultralytics,
# Lightning, albumentations) plus onnxruntime-gpu in place of the CPU onnxruntime, and the
# [cluster] extra (dask-jobqueue) so that `batch` can run GPU workers on SLURM too.
#   docker build -f gpu.Dockerfile -t debrismap-gpu .
#   docker run --rm --gpus all -v "$PWD:/data" debrismap-gpu train --data /data/chips --devices 1
#   docker run --rm --gpus all -v "$PWD:/data" debrismap-gpu detect /data/city.tif --out /data/run --device cuda
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_PREFERENCE=only-system \
    MPLBACKEND=Agg \
    YOLO_OFFLINE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-pip libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && pip3 install --no-cache-dir --break-system-packages uv

WORKDIR /opt/debrismap
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN uv sync --locked --extra train --extra cluster --no-install-project --no-editable
COPY src ./src
COPY models ./models
# the QGIS plugin ships inside the wheel (`debrismap qgis-plugin` builds its zip from it)
COPY qgis ./qgis
COPY training ./training
# onnxruntime and onnxruntime-gpu install the same Python module: swap the CPU build for
# the CUDA one at the locked version so `detect --device cuda` finds the CUDA provider.
RUN uv sync --locked --extra train --extra cluster --no-editable \
    && ORT_VERSION="$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("onnxruntime"))')" \
    && uv pip uninstall --python .venv/bin/python onnxruntime \
    && uv pip install --python .venv/bin/python "onnxruntime-gpu==${ORT_VERSION}" \
    && .venv/bin/debrismap --version

ENV PATH="/opt/debrismap/.venv/bin:$PATH"
WORKDIR /data
ENTRYPOINT ["debrismap"]
CMD ["--help"]
