FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mailer ./mailer
COPY subscribers ./subscribers
COPY templates ./templates
RUN pip install --no-cache-dir ".[ops]" && useradd --create-home mailer
USER mailer
WORKDIR /home/mailer
EXPOSE 8000
CMD ["mailer", "serve", "--host", "0.0.0.0"]
