FROM scratch
COPY --chown=1000:1000 src /o/
COPY --chown=7 a.txt /p/q/r
COPY --chown=0:5 b.txt /p/
