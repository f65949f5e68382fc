FROM scratch
ENTRYPOINT ["/e"]
CMD []
