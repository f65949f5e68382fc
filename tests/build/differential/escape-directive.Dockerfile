# escape=`
FROM scratch
COPY a.txt `
     /escaped/
ENV WIN=C:\path
