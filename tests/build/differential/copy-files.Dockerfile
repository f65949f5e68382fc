FROM scratch
COPY a.txt /a.txt
COPY a.txt /dir/
COPY a.txt /newname
COPY /b.txt ./c.txt /m/
