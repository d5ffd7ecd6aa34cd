# The image docker-compose.yml runs: aqueue from this repository, and its examples/ (tasks, producer).
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY aqueue ./aqueue
RUN pip install .
COPY examples ./examples
CMD ["aqueue", "--help"]
