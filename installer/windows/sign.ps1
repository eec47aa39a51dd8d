# Authenticode-signs files with signtool on Windows (the release workflow),
# with the code-signing certificate in a base64 PFX. The Linux counterpart
# is sign.sh (osslsigncode).
#     installer/windows/sign.ps1 FILE...
# Environment: SIGN_PFX_BASE64, SIGN_PFX_PASSWORD; SIGN_TIMESTAMP_URL
# (an RFC 3161 server, so signatures outlive the certificate; default
# DigiCert's).
param([Parameter(Mandatory = $true, ValueFromRemainingArguments = $true)][string[]]$Files)
$ErrorActionPreference = 'Stop'

if (-not $env:SIGN_PFX_BASE64) {
    Write-Output "sign: SIGN_PFX_BASE64 not set: skipped signing $($Files -join ', ')"
    exit 0
}
$timestamp = if ($env:SIGN_TIMESTAMP_URL) { $env:SIGN_TIMESTAMP_URL } else { 'http://timestamp.digicert.com' }

# signtool comes with the Windows SDK; take the newest x64 one.
$signtool = Get-ChildItem 'C:\Program Files (x86)\Windows Kits\10\bin' -Recurse -Filter signtool.exe |
    Where-Object { $_.FullName -like '*\x64\*' } | Sort-Object FullName -Descending | Select-Object -First 1
if (-not $signtool) { throw 'signtool.exe not found: install the Windows SDK' }

$tmp = if ($env:RUNNER_TEMP) { $env:RUNNER_TEMP } else { [IO.Path]::GetTempPath() }
$pfx = Join-Path $tmp 'orionbridge-sign.pfx'
try {
    [IO.File]::WriteAllBytes($pfx, [Convert]::FromBase64String($env:SIGN_PFX_BASE64))
    foreach ($f in $Files) {
        & $signtool.FullName sign /f $pfx /p $env:SIGN_PFX_PASSWORD /fd sha256 /tr $timestamp /td sha256 /d 'Orion Bridge' $f
        if ($LASTEXITCODE) { throw "signtool failed on $f" }
        & $signtool.FullName verify /pa $f
        if ($LASTEXITCODE) { throw "signtool verify failed on $f" }
    }
} finally {
    Remove-Item -Force -ErrorAction SilentlyContinue $pfx
}
