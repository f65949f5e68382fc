# build-flags: --build-arg FROMCLI=cli --build-arg HTTP_PROXY=http://proxy
ARG GLOBAL=global
ARG ONLY_GLOBAL=x
FROM scratch
ARG GLOBAL
ARG FROMCLI=default
ARG EMPTY=
ARG NODEFAULT
ARG CHAIN=${GLOBAL}-${FROMCLI}
ENV G=$GLOBAL C=$FROMCLI E="[$EMPTY]" N=${NODEFAULT:-unset} O=${ONLY_GLOBAL:-not-visible} CH=$CHAIN
ENV GLOBAL=from-env
ENV AFTER=$GLOBAL
COPY ${FROMCLI:+a.txt} /arg/
