FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY application application
COPY projections projections
COPY api api
RUN pip install --no-cache-dir .
RUN useradd --system --home /var/lib/ledger ledger && mkdir -p /var/lib/ledger && chown ledger /var/lib/ledger
USER ledger
ENV LEDGER_DATA_DIR=/var/lib/ledger
EXPOSE 8000
CMD ["ledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
