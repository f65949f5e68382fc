FROM scratch
ENTRYPOINT /bin/server --port 8080
CMD echo "hello  world"
