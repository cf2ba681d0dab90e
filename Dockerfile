# allhours: one image for the server and its one-shot "allhours prepare"; data (SQLite,
# Chroma) lives in the /data volume when no database or Chroma server is configured.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    ALLHOURS_DATA_DIR=/data ALLHOURS_HOST=0.0.0.0
WORKDIR /app
# torch first, so sentence-transformers takes it as it is. Point PIP_INDEX_URL (build arg) at a
# CPU-only wheel index to keep the image small; the default index serves a CUDA build.
ARG PIP_INDEX_URL
RUN pip install --no-cache-dir torch==2.13.0
COPY pyproject.toml README.md ./
COPY bot bot
COPY retrieval retrieval
COPY handoff handoff
COPY evals evals
RUN pip install --no-cache-dir .
COPY kb_docs kb_docs
COPY web_widget web_widget
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# One container: each start migrates and indexes (ALLHOURS_PREPARE_ON_START, on by default).
# Several: run "allhours prepare" once and start the servers with it off (compose.yaml).
CMD ["allhours", "serve"]
