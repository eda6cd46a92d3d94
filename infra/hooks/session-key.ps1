# azd preprovision hook (Windows): the same as session-key.sh.
$ErrorActionPreference = 'Stop'
$missing = @('DESKMAIL_WEB_CLIENT_ID', 'DESKMAIL_SYSTEM_MAIL_DOMAIN') | Where-Object { -not [Environment]::GetEnvironmentVariable($_) }
if ($missing) {
    Write-Error ("deskmail: set these first (docs/deployment.md): " + (($missing | ForEach-Object { "azd env set $_ <value>" }) -join '; '))
    exit 1
}
if (-not $env:DESKMAIL_SESSION_KEY) {
    $bytes = New-Object byte[] 48
    [System.Security.Cryptography.RandomNumberGenerator]::Fill($bytes)
    azd env set DESKMAIL_SESSION_KEY ([Convert]::ToBase64String($bytes)) | Out-Null
    Write-Host 'deskmail: made a new web session key (stored in Key Vault as deskmail-session-key)'
}
if (-not $env:DESKMAIL_THREAD_KEY) {
    $bytes = New-Object byte[] 48
    [System.Security.Cryptography.RandomNumberGenerator]::Fill($bytes)
    azd env set DESKMAIL_THREAD_KEY ([Convert]::ToBase64String($bytes)) | Out-Null
    Write-Host 'deskmail: made a new thread-marker key (stored in Key Vault as deskmail-thread-key)'
}
