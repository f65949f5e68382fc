FROM scratch
CMD ["a", "b"]
ENTRYPOINT ["/bin/x", "--flag"]
