# syntax=docker/dockerfile:1
# escape=`
FROM scratch
RUN <<EOF cat >/x
hello ${A%%b}
EOF
COPY <<-"E1" /a
	one
	E1
LABEL a=b c="d e" \
  f=${g/h/i}
