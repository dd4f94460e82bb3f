# The seqmesh runtime and operator image (CC, edge, simulator, operator: `seqmesh <command>`).
# Multi-stage: wheels are built with the toolchain, the runtime stage has none; runs as non-root.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip setuptools wheel
COPY pyproject.toml setup.py README.md ./
COPY seqmesh seqmesh
COPY runtime runtime
COPY operator operator
RUN pip install --no-cache-dir grpcio-tools mypy-protobuf \
 && python -m runtime.proto.build 2>/dev/null || python -c "import runtime.proto.build as b; b.build(force=True)" \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN groupadd --gid 10001 seqmesh && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin seqmesh
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/seqmesh
ENTRYPOINT ["seqmesh"]
CMD ["--help"]
