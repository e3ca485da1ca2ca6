#!/usr/bin/env pwsh
<#
.SYNOPSIS
    The one entry point for developers: build, test, kernels, bench, demo, loc.
.DESCRIPTION
    PowerShell comes as a local dotnet tool, so this needs nothing beyond the .NET SDK:
        dotnet tool restore
        dotnet pwsh ./build.ps1 test
    Tasks:
        build    restore and build the solution (Release)
        test     build, then run the NUnit suite; prints "N passed, N failed, N skipped" from the runner's own counts
        kernels  with nvcc: build one fatbin per kernels/*.cu (sm_80, sm_90 SASS + compute_90 PTX) into kernels/build/;
                 always: compile every kernel to PTX with clang-14 as a syntax and entry-point gate
        bench    run BenchmarkDotNet (extra arguments are passed through, default: --filter * --job short)
        demo     the main job: `advrobust demo` (PGD-AT and TLA on Fashion-MNIST, evaluation, detection, report; 10 min on
                 2 CPU cores; extra arguments are passed through, e.g. --device cuda, --out DIR, --quick)
        loc      lines of code per project; fails when a project exceeds its budget
        emulator build the CUDA emulator (src/AdvRobust.Emulator/build.sh: libcuda/cuBLAS/cuDNN stand-ins and the kernels
                 compiled for the host); then `ADVROBUST_CUDA=emulator dotnet pwsh ./build.ps1 test` runs the Gpu tests on it
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('build', 'test', 'kernels', 'bench', 'demo', 'loc', 'emulator')]
    [string] $Task = 'build',
    [string] $Configuration = 'Release',
    [Parameter(ValueFromRemainingArguments = $true)]
    [string[]] $Rest = @()
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
Set-Location $root
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

function Invoke-Checked([string] $what, [scriptblock] $block) {
    & $block
    if ($LASTEXITCODE -ne 0) { throw "$what failed with exit code $LASTEXITCODE" }
}

function Invoke-Build {
    Invoke-Checked 'dotnet build' { dotnet build AdvRobust.Native.sln -c $Configuration --nologo -v:minimal }
}

function Invoke-Test {
    Invoke-Build
    $results = Join-Path $root 'artifacts/test-results'
    if (Test-Path $results) { Remove-Item -Recurse -Force $results }
    dotnet test --project tests/AdvRobust.Tests -c $Configuration --no-build `
        --report-trx --report-trx-filename results.trx --results-directory $results @Rest
    $testExit = $LASTEXITCODE
    $trx = Get-ChildItem -Path $results -Filter '*.trx' -Recurse -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($null -eq $trx) { throw "the test run wrote no TRX report (exit code $testExit)" }
    $counters = ([xml](Get-Content $trx.FullName)).TestRun.ResultSummary.Counters
    $passed = [int]$counters.passed
    $failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
    $skipped = [int]$counters.notExecuted
    Write-Host "$passed passed, $failed failed, $skipped skipped"
    if ($testExit -ne 0 -and $failed -eq 0) { throw "the test runner exited with $testExit" }
    if ($failed -gt 0) { exit 1 }
}

function Get-KernelHash([string] $cu) {
    # Must match KernelSources.Hash: SHA-256 of the .cu bytes followed by every .cuh in ordinal name order, 16 hex digits.
    $headers = [string[]](Get-ChildItem kernels -Filter '*.cuh' | ForEach-Object Name)
    [Array]::Sort($headers, [StringComparer]::Ordinal)
    $stream = [System.IO.MemoryStream]::new()
    foreach ($f in @($cu) + ($headers | ForEach-Object { Join-Path 'kernels' $_ })) {
        $bytes = [System.IO.File]::ReadAllBytes((Resolve-Path $f))
        $stream.Write($bytes, 0, $bytes.Length)
    }
    $hash = [System.Security.Cryptography.SHA256]::HashData($stream.ToArray())
    return ([Convert]::ToHexString($hash)).ToLowerInvariant().Substring(0, 16)
}

function Invoke-Kernels {
    $clang = Get-Command clang-14 -ErrorAction SilentlyContinue
    $nvcc = Get-Command nvcc -ErrorAction SilentlyContinue
    if (-not $clang -and -not $nvcc) { throw 'neither nvcc nor clang-14 found: install clang-14 (apt-get install clang-14) for the compile gate' }
    $out = Join-Path $root 'kernels/build'
    New-Item -ItemType Directory -Force $out | Out-Null
    foreach ($cu in Get-ChildItem kernels -Filter '*.cu' | Sort-Object Name) {
        if ($clang) {
            Invoke-Checked "clang-14 $($cu.Name)" {
                clang-14 -x cuda --cuda-device-only --cuda-gpu-arch=sm_70 -nocudainc -nocudalib -Wall -Wextra -Werror `
                    -include kernels/compat.h -Xclang -target-feature -Xclang +ptx64 -Ikernels `
                    -S -o (Join-Path $out "$($cu.BaseName).clang.ptx") $cu.FullName
            }
            Write-Host "clang-14 gate ok: $($cu.Name)"
        }
        if ($nvcc) {
            $fatbin = Join-Path $out "$($cu.BaseName).$(Get-KernelHash $cu.FullName).fatbin"
            Invoke-Checked "nvcc $($cu.Name)" {
                nvcc -fatbin -std=c++17 -lineinfo -Ikernels `
                    -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 `
                    -gencode arch=compute_90,code=compute_90 -o $fatbin $cu.FullName
            }
            Write-Host "nvcc fatbin: $fatbin"
        }
    }
    if (-not $nvcc) { Write-Host 'nvcc not found: no fatbin built; the engine compiles kernels with NVRTC at run time.' }
}

function Invoke-Loc {
    # Budgets in lines of C#/CUDA (STYLE.md convention 12). Core holds the whole backend-agnostic engine (tensors,
    # autograd, layers and models, attacks, data, serialization): about a day's reading, no more. Research holds what
    # is built on it (training recipes and runs, detection, certification, proxy distributions).
    $budgets = @{ 'src/AdvRobust.Core' = 8000; 'src/AdvRobust.Research' = 7000; 'src/AdvRobust.Cpu' = 5000;
        'src/AdvRobust.Cuda' = 5000; 'kernels' = 4000 }
    $over = $false
    $dirs = @(Get-ChildItem src -Directory) + @(Get-Item kernels) + @(Get-ChildItem tests, benchmarks -Directory)
    foreach ($dir in $dirs) {
        $rel = [System.IO.Path]::GetRelativePath($root, $dir.FullName).Replace('\', '/')
        $files = Get-ChildItem $dir.FullName -Recurse -File -Include '*.cs', '*.cu', '*.cuh', '*.h' |
            Where-Object { $_.FullName -notmatch '[\\/](bin|obj|build)[\\/]' }
        $lines = 0
        foreach ($f in $files) { $lines += @(Get-Content $f.FullName).Count }
        $budget = $budgets[$rel]
        $note = if ($budget) { if ($lines -gt $budget) { $over = $true; "OVER budget $budget" } else { "budget $budget" } } else { '' }
        Write-Host ('{0,-36} {1,5} files {2,7} lines  {3}' -f $rel, @($files).Count, $lines, $note)
    }
    if ($over) { throw 'a project is over its line budget' }
}

switch ($Task) {
    'build' { Invoke-Build }
    'test' { Invoke-Test }
    'kernels' { Invoke-Kernels }
    'bench' {
        $benchArgs = if ($Rest.Count -gt 0) { $Rest } else { @('--filter', '*', '--job', 'short') }
        Invoke-Checked 'benchmarks' { dotnet run -c Release --project benchmarks/AdvRobust.Benchmarks -- @benchArgs }
    }
    'demo' {
        Invoke-Build
        Invoke-Checked 'advrobust demo' { dotnet run -c $Configuration --no-build --project src/AdvRobust.Cli -- demo @Rest }
    }
    'loc' { Invoke-Loc }
    # ---- CUDA emulator (issue 12 §2-3) ----
    'emulator' { Invoke-Checked 'emulator build' { bash src/AdvRobust.Emulator/build.sh @Rest } }
}
