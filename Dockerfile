# One image for every role: `pmp-gateway serve`, `pmp-gateway pmpdb`, `pmp-gateway ingest`.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PMP_DATA_DIR=/var/lib/pmp
WORKDIR /app
COPY pyproject.toml README.md ./
COPY adapters adapters
COPY gateway gateway
COPY pmpdb pmpdb
COPY pmpcli pmpcli
COPY protos protos
COPY fhir_profiles fhir_profiles
# editable: the FHIR adapter reads fhir_profiles/ beside the packages
RUN pip install --no-cache-dir -e . && useradd --system --home /var/lib/pmp pmp && mkdir -p /var/lib/pmp \
    && chown pmp /var/lib/pmp
USER pmp
EXPOSE 8080 50051
ENTRYPOINT ["pmp-gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
