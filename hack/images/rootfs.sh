# shellcheck shell=bash
# base_rootfs DIR: the files of a distroless static image in DIR (emptied
# first): users root, nobody and nonroot (65532), CA certificates, time zones,
# /tmp. Shared by the local cluster's images (hack/cluster/images.sh) and the
# release image (hack/release.sh).
base_rootfs() {
  local d=$1
  rm -rf "$d"
  mkdir -p "$d/etc/ssl/certs" "$d/usr/share" "$d/tmp" "$d/home/nonroot" "$d/root"
  chmod 1777 "$d/tmp"
  chmod 700 "$d/root" "$d/home/nonroot"
  cat >"$d/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
  cat >"$d/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
GROUP
  echo 'hosts: files dns' >"$d/etc/nsswitch.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$d/etc/ssl/certs/ca-certificates.crt"
  cp -a /usr/share/zoneinfo "$d/usr/share/zoneinfo"
}
