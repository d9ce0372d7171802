FROM debian:12 AS build
ARG V=1
ENV A=${V:-x} B="q w"
RUN --mount=type=cache,target=/c echo $A \
  && echo done
COPY --from=build --chown=1:1 ["a b", "/c/"]
HEALTHCHECK --interval=5s CMD ["true"]
ONBUILD RUN x
