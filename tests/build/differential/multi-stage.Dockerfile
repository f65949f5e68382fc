# build-flags: --build-arg VERSION=2.0
ARG VERSION=1.0
FROM scratch AS build
ARG VERSION
ENV BUILT=$VERSION
COPY src /out/
COPY --chown=5:5 a.txt /out/owned.txt
WORKDIR /out/work

FROM scratch AS unused
COPY c.txt /never

FROM build AS derived
LABEL stage=derived
COPY b.txt /out/

FROM scratch
COPY --from=build /out /app
COPY --from=derived /out/b.txt /out/owned.txt /files/
COPY --from=0 /out/s*.txt /glob/
COPY --from=derived /out/link /followed-link
ENV FINAL=1
CMD ["/app/s1.txt"]
