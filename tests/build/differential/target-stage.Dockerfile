# build-flags: --target middle
FROM scratch AS first
COPY a.txt /a
FROM first AS middle
ENV STAGE=middle
ENTRYPOINT ["/a"]
FROM middle
CMD ["never"]
