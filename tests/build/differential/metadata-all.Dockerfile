# build-flags: --build-arg LOCAL=cli --label from.cli=yes --label a=overridden
ARG BASE=scratch
ARG GLOBAL=g1
FROM ${BASE} AS first
ARG GLOBAL
ARG LOCAL=l1
ARG UNSETARG
ENV FROMARG=$GLOBAL-$LOCAL-${UNSETARG:-none}
LABEL a=1 "b c"="d e" multi="x\
y"
LABEL legacy label value
MAINTAINER Jane Doe <jane@example.com>
USER 1000:1000
VOLUME /data /other
VOLUME ["/json1", "/json2"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=4 CMD /bin/check --now
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
CMD run this
ONBUILD COPY a.txt /onbuild/
COPY a.txt nomatch* /
EXPOSE 80
