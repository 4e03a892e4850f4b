# t/root.sh: run a script as root in a throwaway copy of this machine, for
# tests that install things, take dpkg's lock or listen on fixed ports the
# way a user would.  Source it after t/lib.sh.
#
#   root_check              skip_all unless this can work here (root, unshare,
#                           overlayfs)
#   in_root SCRIPT [ARG...] run SCRIPT with sh inside the copy; its exit code
#   source_copy DIR         copy the source tree to DIR as a fresh clone would
#                           have it (uncommitted edits included, no build trees)
#
# The copy: an overlay of / whose writes land in $T/root.upper and vanish
# with the test (the machine's /usr, /etc and dpkg database stay as they
# were), its own network namespace (127.0.0.1 is private: fixed ports such as
# the demo's 8080 collide with nobody) and its own PID namespace (whatever
# the script leaves running is killed when it ends).  $T/shared is the same
# directory inside and out: scripts leave their results there.

root_check() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespaces)"
	for _r_c in unshare chroot mount ip; do
		command -v $_r_c >/dev/null 2>&1 || skip_all "$_r_c not installed"
	done
	mkdir -p "$T/shared"
	in_root /dev/null 2>"$T/root.err" ||
		skip_all "no throwaway root here: $(head -n 3 "$T/root.err" | tr '\n' ' ')"
}

in_root() {
	_r_script=$1; shift
	_r=$T/root
	rm -rf "$_r.upper" "$_r.work"
	mkdir -p "$_r" "$_r.upper" "$_r.work" "$T/shared"
	# PID 1 of the new namespaces mounts the copy, then chroots into it
	unshare --mount --net --pid --fork --kill-child sh -eu -c '
		r=$1 shared=$2; shift 2
		mount --make-rprivate /
		mount -t overlay overlay -o "lowerdir=/,upperdir=$r.upper,workdir=$r.work" "$r"
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"
		mount --bind "$shared" "$r$shared"
		ip link set lo up
		exec chroot "$r" /bin/sh "$@"
	' in_root "$_r" "$T/shared" "$_r_script" "$@"
}

source_copy() {
	mkdir -p "$1"
	if git -C "$VP_SRCDIR" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$VP_SRCDIR" ls-files -z --cached --others --exclude-standard |
			(cd "$VP_SRCDIR" && xargs -0 sh -c 'for f; do [ ! -e "$f" ] || printf "%s\0" "$f"; done' sh) |
			(cd "$VP_SRCDIR" && tar --null -T - -cf -) | tar -C "$1" -xf -
	else # a dist tree
		(cd "$VP_SRCDIR" && tar --exclude=./_build --exclude=./_inst -cf - .) | tar -C "$1" -xf -
	fi
}
