# t.sh LABEL cmd : wraps in prlimit --as=8e9 and /usr/bin/time -v, logs to logs/
