# Pinned to a minor version (a digest pins harder: python:3.11.11-slim-bookworm@sha256:...).
FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mailer ./mailer
COPY subscribers ./subscribers
COPY templates ./templates
COPY deploy/flower ./deploy/flower
# The folders compose mounts volumes on exist in the image, owned by its user: a new named volume copies them
# (owner included), where a folder missing from the image would be created root-owned and unwritable.
RUN pip install --no-cache-dir ".[ops]" && useradd --create-home mailer \
    && mkdir -p /home/mailer/standin && chown mailer:mailer /home/mailer/standin \
    && mkdir -p /home/mailer/uploads && chown mailer:mailer /home/mailer/uploads
USER mailer
WORKDIR /home/mailer
EXPOSE 8000
CMD ["mailer", "serve", "--host", "0.0.0.0"]
