# The chatkit-pg image: the ChatKit server under test and the Locust scenarios.
#   docker build -t chatkit-pg .
#   server: docker run -e CHATKIT_PG_DSN=postgresql://... -p 8000:8000 chatkit-pg
#   locust: docker run chatkit-pg locust -f loadtest/scenarios/locustfile.py --config loadtest/scenarios/locust.conf ...
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY store ./store
COPY harness ./harness
COPY cli ./cli
COPY loadtest ./loadtest
COPY bench ./bench
COPY reports ./reports
# [harness] = the server extras (FastAPI, uvicorn) + Locust, so one image plays every role.
RUN pip install ".[harness]"

RUN useradd --create-home --uid 10001 chatkit
USER chatkit

EXPOSE 8000 8089 5557
# The server; the database comes from CHATKIT_PG_DSN and is migrated at start.
CMD ["sh", "-c", "exec chatkit-pg serve --host 0.0.0.0 --port 8000 --workers ${SERVER_WORKERS:-2}"]
