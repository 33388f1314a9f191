# One image for every service; docker-compose.yml picks the entry point.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --create-home --uid 10001 mash

# Installed as root into site-packages so the runtime user cannot modify the code.
WORKDIR /src
COPY pyproject.toml ./
COPY contracts/ contracts/
COPY judgement/ judgement/
COPY plumbing/ plumbing/
COPY services/ services/
COPY mash/ mash/
COPY synthetic/ synthetic/
RUN pip install --no-cache-dir .

# Run from outside /src so imports resolve to the installed packages, not the sources.
WORKDIR /home/mash
USER mash

CMD ["mash", "--help"]
