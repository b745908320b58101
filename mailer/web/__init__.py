"""The FastAPI app: public pages, editor admin, webhook, /metrics, /healthz, /readyz."""
