#!/bin/sh
# sink-eventbridge reads STS's XML answers with a small reader instead of
# libxml2 (which would bring ICU into the sink).  It must read as expat
# does: Python's ElementTree is the oracle for STS's success and error
# answers, edge cases and thousands of mangled copies (a document expat
# refuses is refused, one both accept reads the same); a DOCTYPE is refused.
. "${0%/*}/lib.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed"
plan 8
CHK="$VP_WRAP awsxml-check"
N=${VP_XML_FUZZ_N:-3000}

if python3 "$VP_SRCDIR/t/fake-aws-creds/xml-compare.py" "$VP_BUILDDIR/src/sink-eventbridge/awsxml-check" \
    "$T/corpus" "$N" >"$T/cmp.out" 2>&1; then
	ok "agrees with expat on STS answers, edge cases and $N mangled copies"
else
	not_ok "agrees with expat on STS answers, edge cases and $N mangled copies"
	sed 's/^/# /' "$T/cmp.out" | tail -20 >&2
fi
check "most mangled answers are refused, some still read" \
    grep -q '^# [0-9]* documents, [1-9][0-9]* accepted by expat, 0 disagreements$' "$T/cmp.out"

P=AssumeRoleResponse/AssumeRoleResult/Credentials
cat >"$T/ok.xml" <<'EOX'
<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
      <SecretAccessKey>a&amp;b&lt;c&gt;&#x2F;&#47;</SecretAccessKey>
      <SessionToken><![CDATA[tok<en>]]>&#xA;more</SessionToken>
      <Expiration>2026-11-27T12:00:00Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
</AssumeRoleResponse>
EOX
printf '%s\n' "$T/ok.xml" "$P/AccessKeyId=ASIAEXAMPLE" "$P/SecretAccessKey=a&b<c>//" \
    "$P/SessionToken=tok<en>\\nmore" "$P/Expiration=2026-11-27T12:00:00Z" "$P/Missing absent" >"$T/want"
$CHK "$T/ok.xml" -- $P/AccessKeyId $P/SecretAccessKey $P/SessionToken $P/Expiration $P/Missing >"$T/got" 2>&1 || true
same "an AssumeRole answer: references, CDATA, a missing element" "$T/want" "$T/got"

printf '<a>\r\n<b>x\r\ny\rz</b></a>' >"$T/crlf.xml"
$CHK "$T/crlf.xml" -- a/b >"$T/got" 2>&1 || true
is "line ends read as XML says (CR LF and CR are LF)" "a/b=x\\ny\\nz" "$(sed -n 2p "$T/got")"

printf '<!DOCTYPE a [<!ENTITY e "boom">]><a><b>&e;</b></a>' >"$T/dtd.xml"
$CHK "$T/dtd.xml" -- a/b >"$T/got" 2>&1 || true
is "a DOCTYPE is refused" "error: XML at byte 0: DOCTYPE and declarations are not accepted" "$(sed -n 2p "$T/got")"

head -c 300 "$T/ok.xml" >"$T/cut.xml"
$CHK "$T/cut.xml" -- $P/AccessKeyId >"$T/got" 2>&1 || true
check "a truncated answer is refused, not half read" grep -q '^error: XML at byte' "$T/got"

printf '<p:a xmlns:p="urn:x"><q:b>x</q:b></p:a>' >"$T/ns.xml"
$CHK "$T/ns.xml" -- a/b >"$T/got" 2>&1 || true
check "an unbound namespace prefix is refused" grep -q 'unbound namespace prefix' "$T/got"

if command -v ldd >/dev/null 2>&1; then
	check "sink-eventbridge does not link libxml2" sh -c "! ldd '$VP_BUILDDIR/src/sink-eventbridge/sink-eventbridge' | grep -q libxml2"
else
	check "sink-eventbridge does not link libxml2" sh -c "! readelf -d '$VP_BUILDDIR/src/sink-eventbridge/sink-eventbridge' | grep -q libxml2"
fi
done_testing
