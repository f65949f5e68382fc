FROM scratch
HEALTHCHECK CMD ["/bin/check", "--quick"]
HEALTHCHECK --interval=1m30s --retries=2 CMD /bin/check
SHELL ["/bin/bash", "-c"]
ENTRYPOINT exec server
STOPSIGNAL 9
FROM scratch
HEALTHCHECK NONE
USER nobody
