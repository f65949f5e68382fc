FROM scratch
ENV A=1
EXPOSE 8080
CMD ["/nothing"]
