# Synapse web app. Production expects PostgreSQL and explicit keys (see README, "Running in production").
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    SYNAPSE_DATA_DIR=/var/lib/synapse SYNAPSE_ADDRESS=0.0.0.0 SYNAPSE_PORT=8501

# DejaVu covers the rupee sign in bill PDFs.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin synapse \
    && mkdir -p /var/lib/synapse && chown synapse /var/lib/synapse

WORKDIR /app
# Editable install: the `synapse` command finds Home.py, pages/ and migrations/ beside core/.
COPY . .
RUN pip install --no-cache-dir -e '.[whisper-model]'

USER synapse
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"
# Migrate, then serve. The TLS-terminating reverse proxy in front is what makes the microphone usable.
CMD ["sh", "-c", "synapse migrate && exec synapse run"]
