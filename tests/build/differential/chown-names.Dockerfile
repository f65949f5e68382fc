FROM scratch
COPY etc/passwd etc/group /etc/
COPY --chown=app a.txt /owned/by-name
COPY --chown=app:staff b.txt /owned/
COPY --chown=1001:staff c.txt /owned/
COPY --chown=app:50 src /owned/dir/
