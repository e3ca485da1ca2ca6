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
                 always: compile every kernel to PTX with clang-14 as a syntax and entry-point gate, then with NVRTC
                 (installed from Debian non-free by .ci/nvrtc.sh if missing) through the engine's own bindings for
                 sm_80 and sm_90: prints registers, shared memory, spills and occupancy per kernel, writes
                 kernels/RESOURCES.md, and fails on a spill or a launch that could not start
        bench    run BenchmarkDotNet (extra arguments are passed through, default: --filter * --job short)
                 `bench --peer [--rounds N] [--python PATH]`: our CPU cases of issue 14's table and the PyTorch peers
                 (../shared/bench/torch_peer_cpu.py, benchmarks/peer/torch_peer_extra.py) alternately, N rounds (default
                 3); prints per-round values, medians, ratios and goals with the machine, date, commit and versions, and
                 writes them to benchmarks/results/peer-DATE-COMMIT.md (about 15 minutes on 2 idle cores)
        demo     the main job: `advrobust demo` (PGD-AT and TLA on Fashion-MNIST, evaluation, detection, report; 10 min on
                 2 CPU cores; extra arguments are passed through, e.g. --device cuda, --out DIR, --quick). Installs
                 Fashion-MNIST first where it is missing (Debian, as root), or says exactly what to run
        setup    install what a fresh Debian machine lacks (the data set, clang-14, libFuzzer); what CI runs first
        gpu-check
                 prepare the one GPU check (benchmarks/gpu-check.sh) in the git-ignored .gpu/: the .NET runtime, the
                 tests, benchmarks and CLI, and a Fashion-MNIST subset, within the device tool's 64 MiB carry limit;
                 --rehearse then runs the check here against the CUDA emulator, small (CI does this)
        loc      lines of code per project; fails when a project exceeds its budget
        fuzz     SharpFuzz + libFuzzer on the readers of untrusted bytes (tests/AdvRobust.Fuzz/README.md):
                 `fuzz [TARGET|all] [SECONDS]` (default all, 300 s each); `fuzz ci` is CI's bounded run
                 (13 s each, about 3 minutes).
                 Prints a line per target (executions, corpus size); exits non-zero on a finding.
        emulator build the CUDA emulator (src/AdvRobust.Emulator/build.sh: libcuda/cuBLAS/cuDNN stand-ins and the kernels
                 compiled for the host); then `ADVROBUST_CUDA=emulator dotnet pwsh ./build.ps1 test` runs the Gpu tests on it
#>
# A plain script, not an advanced one ([CmdletBinding] or [Parameter]): an advanced script adds PowerShell's common
# parameters, and `--out DIR` would then be read as an ambiguous -OutVariable/-OutBuffer instead of reaching advrobust.
# The task is the only positional parameter: everything after it (`fuzz ci`, `demo --quick`, `test --filter X`) is
# passed through, except `-Configuration NAME`, read here (a second positional parameter would swallow `ci`).
param(
    [ValidateSet('build', 'test', 'kernels', 'bench', 'demo', 'setup', 'gpu-check', 'loc', 'fuzz', 'emulator')]
    [string] $Task = 'build'
)
$Configuration = 'Release'
$Rest = [System.Collections.Generic.List[string]]::new()
for ($i = 0; $i -lt $args.Count; $i++) {
    if ("$($args[$i])" -eq '-Configuration' -and $i + 1 -lt $args.Count) { $Configuration = "$($args[++$i])" }
    else { $Rest.Add("$($args[$i])") }
}
$Rest = [string[]]$Rest

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
    Invoke-KernelResources
}

# ---- NVRTC resource report (issue 12 §1) ----
function Invoke-KernelResources {
    # NVRTC 11.8 from Debian non-free when no NVRTC is installed (.ci/nvrtc.sh also enables contrib non-free).
    if ($IsLinux) { Invoke-Checked 'installing NVRTC (.ci/nvrtc.sh)' { bash (Join-Path $root '.ci/nvrtc.sh') } }
    Invoke-Build
    $cli = Join-Path $root "src/AdvRobust.Cli/bin/$Configuration/net10.0/advrobust.dll"
    Invoke-Checked 'advrobust kernels (NVRTC resource report)' {
        dotnet $cli kernels --markdown (Join-Path $root 'kernels/RESOURCES.md')
    }
}

function Install-DebianPackage([string] $package, [string] $why) {
    # Installs a Debian package where this machine can (Linux, root, apt-get); otherwise says exactly what to run.
    $canInstall = $IsLinux -and (Get-Command apt-get -ErrorAction SilentlyContinue) -and ((& id -u) -eq '0')
    if (-not $canInstall) {
        $how = if ($IsLinux -and (Get-Command apt-get -ErrorAction SilentlyContinue)) {
            "sudo apt-get update && sudo apt-get install -y $package"
        } else { "on Debian or Ubuntu: sudo apt-get update && sudo apt-get install -y $package" }
        throw "$package is missing ($why). Install it with: $how"
    }
    Write-Host "installing Debian package $package ($why): apt-get update && apt-get install -y $package"
    & apt-get update -qq | Out-Null
    & apt-get install -y -qq $package | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "apt-get install $package failed with exit code $LASTEXITCODE" }
}

function Test-FashionMnist([string[]] $demoArgs) {
    # The demo reads Fashion-MNIST from --data DIR, else $ADVROBUST_DATA/fashion-mnist, else Debian's copy
    # (src/AdvRobust.Core/Data/FashionMnist.cs). Install Debian's copy only when none of those is given.
    if ($demoArgs -contains '--data') { return }
    if ($env:ADVROBUST_DATA -and (Test-Path (Join-Path $env:ADVROBUST_DATA 'fashion-mnist'))) { return }
    if (Test-Path '/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz') { return }
    Install-DebianPackage 'dataset-fashion-mnist' 'Fashion-MNIST for the demo and the real-data tests; or pass --data DIR'
}

function Invoke-Setup {
    Test-FashionMnist @()
    if (-not (Get-Command clang-14 -ErrorAction SilentlyContinue)) {
        Install-DebianPackage 'clang-14' "the kernels' PTX compile gate, the fuzz driver and the CUDA emulator"
    }
    if ($IsLinux -and (Get-Command dpkg -ErrorAction SilentlyContinue)) {
        & dpkg -s libclang-rt-14-dev 2>&1 | Out-Null
        if ($LASTEXITCODE -ne 0) { Install-DebianPackage 'libclang-rt-14-dev' 'libFuzzer, for build.ps1 fuzz' }
    }
}

function Write-IdxSubset([string] $from, [string] $to, [int] $count) {
    # The first $count items of a gzipped IDX file (header: magic, then one big-endian int32 per dimension; the
    # first dimension is the item count), gzipped again. The GPU check trains on a subset to fit the carry limit.
    $in = [System.IO.Compression.GZipStream]::new([System.IO.File]::OpenRead($from), [System.IO.Compression.CompressionMode]::Decompress)
    $buffer = [System.IO.MemoryStream]::new(); $in.CopyTo($buffer); $in.Dispose()
    $bytes = $buffer.ToArray()
    $dims = $bytes[3]
    function ReadBigEndian([int] $at) { ([int]$bytes[$at] -shl 24) -bor ([int]$bytes[$at + 1] -shl 16) -bor ([int]$bytes[$at + 2] -shl 8) -bor [int]$bytes[$at + 3] }
    $n = ReadBigEndian 4
    $itemSize = 1
    for ($d = 1; $d -lt $dims; $d++) { $itemSize *= ReadBigEndian (4 + 4 * $d) }
    $count = [Math]::Min($count, $n)
    $header = 4 + 4 * $dims
    $outBytes = [byte[]]::new($header + $count * $itemSize)
    [Array]::Copy($bytes, $outBytes, $outBytes.Length)
    for ($i = 0; $i -lt 4; $i++) { $outBytes[4 + $i] = [byte](($count -shr (8 * (3 - $i))) -band 0xFF) }
    $file = [System.IO.File]::Create($to)
    $gz = [System.IO.Compression.GZipStream]::new($file, [System.IO.Compression.CompressionLevel]::Optimal)
    $gz.Write($outBytes, 0, $outBytes.Length); $gz.Dispose(); $file.Dispose()
}

function Invoke-GpuCheck([string[]] $checkArgs) {
    $rehearse = $checkArgs -contains '--rehearse'
    # benchmarks/gpu-stage.sh packs the .NET runtime and writes .gpu/activate.sh (our copy of shared/gpu/stage.sh,
    # which needs a .git/info folder that a CI checkout may lack).
    Invoke-Checked 'gpu-stage.sh' { bash (Join-Path $root 'benchmarks/gpu-stage.sh') }
    $gpu = Join-Path $root '.gpu'
    # One output folder for the three programs: they share most assemblies, so it packs to about 14 MB.
    $app = Join-Path $root 'artifacts/gpu-app'
    if (Test-Path $app) { Remove-Item -Recurse -Force $app }
    foreach ($project in 'tests/AdvRobust.Tests', 'benchmarks/AdvRobust.Benchmarks', 'src/AdvRobust.Cli') {
        Invoke-Checked "dotnet build $project" { dotnet build $project -c $Configuration --nologo -v:quiet -o $app }
    }
    (& git rev-parse HEAD) | Set-Content (Join-Path $app 'COMMIT')
    Invoke-Checked 'packing the programs' { tar -C $app -cJf (Join-Path $gpu 'app.tar.xz') . }
    # Fashion-MNIST: the whole test set and the first 20,000 training images (all 60,000 would not fit the carry).
    Test-FashionMnist @()
    $source = '/usr/share/datasets/fashion-mnist'
    $data = Join-Path $gpu 'data/fashion-mnist'
    New-Item -ItemType Directory -Force $data | Out-Null
    Copy-Item (Join-Path $source 't10k-*') $data
    Write-IdxSubset (Join-Path $source 'train-images-idx3-ubyte.gz') (Join-Path $data 'train-images-idx3-ubyte.gz') 20000
    Write-IdxSubset (Join-Path $source 'train-labels-idx1-ubyte.gz') (Join-Path $data 'train-labels-idx1-ubyte.gz') 20000
    $bytes = (Get-ChildItem $gpu -Recurse -File | Measure-Object -Sum Length).Sum
    $limit = 64MB
    Write-Host ('.gpu/ holds {0:N1} MiB of the 64 MiB a device call may carry' -f ($bytes / 1MB))
    if ($bytes -gt $limit) { throw ".gpu/ is $([Math]::Round($bytes / 1MB, 1)) MiB, over the device tool's 64 MiB carry limit" }
    if ($rehearse) {
        $env:OUT = Join-Path $root 'artifacts/gpu-check-rehearsal'
        if (Test-Path $env:OUT) { Remove-Item -Recurse -Force $env:OUT }
        Invoke-Checked 'gpu-check rehearsal' { bash (Join-Path $root 'benchmarks/gpu-check.sh') --rehearse }
        Write-Host "rehearsal summary: $(Join-Path $env:OUT 'gpu-check.md')"
    } else {
        Write-Host 'on the GPU machine (device tool), within one call: bash benchmarks/gpu-check.sh   with carry [".gpu"]'
    }
}

function Invoke-Loc {
    # Budgets in lines of C#/CUDA (STYLE.md convention 12). Core holds the whole backend-agnostic engine (tensors,
    # autograd, layers and models, attacks, data, serialization): about a day's reading, no more. Research holds what
    # is built on it (training recipes and runs, detection, certification, proxy distributions). Cpu grew past 5000
    # with issue 14 (the fused im2col and Winograd convolutions, the blocked SGEMM and RowDots, the fork-join pool),
    # and past 5600 with Winograd F(4×4, 3×3) beside F(2×2, 3×3) and the kept forms of constant weights.
    $budgets = @{ 'src/AdvRobust.Core' = 9000; 'src/AdvRobust.Research' = 7000; 'src/AdvRobust.Cpu' = 6000;
        'src/AdvRobust.Cuda' = 5000; 'kernels' = 4000 }
    $over = $false
    $dirs = @(Get-ChildItem src -Directory) + @(Get-Item kernels) + @(Get-ChildItem tests, benchmarks -Directory)
    foreach ($dir in $dirs) {
        $rel = [System.IO.Path]::GetRelativePath($root, $dir.FullName).Replace('\', '/')
        $files = Get-ChildItem $dir.FullName -Recurse -File -Include '*.cs', '*.cu', '*.cuh', '*.h', '*.c', '*.cpp' |
            Where-Object { $_.FullName -notmatch '[\\/](bin|obj|build)[\\/]' }
        $lines = 0
        foreach ($f in $files) { $lines += @(Get-Content $f.FullName).Count }
        $budget = $budgets[$rel]
        $note = if ($budget) { if ($lines -gt $budget) { $over = $true; "OVER budget $budget" } else { "budget $budget" } } else { '' }
        Write-Host ('{0,-36} {1,5} files {2,7} lines  {3}' -f $rel, @($files).Count, $lines, $note)
    }
    if ($over) { throw 'a project is over its line budget' }
}

function Invoke-Fuzz {
    # `fuzz ci` | `fuzz [TARGET|all] [SECONDS]`: build the harness, instrument the engine's assemblies (SharpFuzz),
    # build the libFuzzer driver (clang-14), then fuzz each target for SECONDS on a working corpus seeded from
    # tests/AdvRobust.Fuzz/corpus. Findings (crash-*, timeout-*) go to artifacts/fuzz/findings/TARGET/.
    $ci = $Rest.Count -gt 0 -and $Rest[0] -eq 'ci'
    $which = if ($Rest.Count -gt 0 -and -not $ci) { $Rest[0] } else { 'all' }
    $seconds = if ($ci) { 13 } elseif ($Rest.Count -gt 1) { [int]$Rest[1] } else { 300 }
    $fuzzRoot = Join-Path $root 'artifacts/fuzz'
    $bin = Join-Path $fuzzRoot 'bin'
    $driver = Join-Path $fuzzRoot 'libfuzzer-dotnet'
    New-Item -ItemType Directory -Force $fuzzRoot | Out-Null
    Invoke-Checked 'clang-14 libfuzzer-dotnet.c (needs clang-14 and libclang-rt-14-dev)' {
        clang-14 -O1 -Wall -Wextra -Werror -fsanitize=fuzzer tests/AdvRobust.Fuzz/libfuzzer-dotnet.c -o $driver
    }
    Invoke-Checked 'dotnet build AdvRobust.Fuzz' {
        dotnet build tests/AdvRobust.Fuzz -c $Configuration --nologo -v:quiet
    }
    if (Test-Path $bin) { Remove-Item -Recurse -Force $bin }
    Copy-Item -Recurse "tests/AdvRobust.Fuzz/bin/$Configuration/net10.0" $bin
    # Coverage comes from the engine's own assemblies; the harness, SharpFuzz and the framework stay as they are.
    foreach ($dll in 'AdvRobust.Core', 'AdvRobust.Cpu', 'AdvRobust.Research', 'AdvRobust.Report', 'advrobust') {
        Invoke-Checked "sharpfuzz $dll.dll" { dotnet sharpfuzz (Join-Path $bin "$dll.dll") }
    }
    $harness = Join-Path $bin 'AdvRobust.Fuzz'
    $targets = @(& $harness list | ForEach-Object { ($_ -split '\s+')[0] })
    if ($which -ne 'all') {
        if ($which -notin $targets) { throw "no fuzz target '$which'; the targets are $($targets -join ', ')" }
        $targets = @($which)
    }
    $env:TMPDIR = if (Test-Path /dev/shm) { '/dev/shm' } else { [System.IO.Path]::GetTempPath() }
    $env:DOTNET_GCHeapHardLimit = '0x80000000'  # a 2 GiB heap: a runaway allocation is an OutOfMemoryException
    $failed = @()
    $started = Get-Date
    foreach ($t in $targets) {
        $work = Join-Path $fuzzRoot "corpus/$t"
        $findings = Join-Path $fuzzRoot "findings/$t"
        $log = Join-Path $fuzzRoot "logs/$t.log"
        if (Test-Path $findings) { Remove-Item -Recurse -Force $findings }  # this run's findings only
        New-Item -ItemType Directory -Force $work, $findings, (Split-Path $log) | Out-Null
        # The JSON readers get a dictionary of JSON tokens and the keys they know (tests/AdvRobust.Fuzz/dict).
        $dict = "tests/AdvRobust.Fuzz/dict/$t.dict"
        $dictArg = @(if (Test-Path $dict) { "-dict=$dict" })  # an array even with one element, to splat
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        & $driver "--target_path=$harness" "--target_arg=$t" "-max_total_time=$seconds" -timeout=10 @dictArg `
            -print_final_stats=1 "-artifact_prefix=$findings/" $work "tests/AdvRobust.Fuzz/corpus/$t" *> $log
        $code = $LASTEXITCODE
        $elapsed = [int]$clock.Elapsed.TotalSeconds
        $text = Get-Content -Raw $log
        $runs = if ($text -match 'stat::number_of_executed_units:\s*(\d+)') { $Matches[1] } else { '?' }
        $corpus = [regex]::Matches($text, 'corp: (\d+)/(\d+\w*)') | Select-Object -Last 1
        $corpusText = if ($corpus) { "$($corpus.Groups[1].Value) inputs ($($corpus.Groups[2].Value))" } else { '?' }
        $found = @(Get-ChildItem $findings -File | Where-Object { $_.Name -match '^(crash|timeout|oom|leak)-' })
        $status = if ($code -eq 0 -and $found.Count -eq 0) { 'no findings' } else { "FINDING (libFuzzer exit $code)" }
        Write-Host ("fuzz {0,-12} {1,9} executions in {2,3} s, corpus {3}: {4}" -f
            $t, $runs, $elapsed, $corpusText, $status)
        if ($code -ne 0 -or $found.Count -gt 0) {
            $failed += $t
            foreach ($f in $found) { Write-Host "    $($f.FullName)" }
            $text -split "`n" |
                Where-Object { $_ -match 'FuzzFindingException|Exception:|libfuzzer-dotnet:|ERROR: libFuzzer' } |
                Select-Object -First 5 | ForEach-Object { Write-Host "    $_" }
        }
    }
    Write-Host ("fuzzed {0} targets in {1:N0} s; logs in {2}" -f
        $targets.Count, ((Get-Date) - $started).TotalSeconds, (Join-Path $fuzzRoot 'logs'))
    if ($failed.Count -gt 0) {
        Write-Host ("findings in: $($failed -join ', '); replay one with " +
            "tests/AdvRobust.Fuzz/bin/$Configuration/net10.0/AdvRobust.Fuzz replay TARGET FILE")
        exit 1
    }
}

switch ($Task) {
    'build' { Invoke-Build }
    'test' { Invoke-Test }
    'kernels' { Invoke-Kernels }
    'bench' {
        if ($Rest -contains '--peer') {
            # Build once, then run the built program: each round starts it again (benchmarks/README.md, "bench --peer").
            Invoke-Checked 'dotnet build benchmarks' { dotnet build benchmarks/AdvRobust.Benchmarks -c Release --nologo -v:quiet }
            Invoke-Checked 'bench --peer' { dotnet benchmarks/AdvRobust.Benchmarks/bin/Release/net10.0/AdvRobust.Benchmarks.dll @Rest }
        } else {
            $benchArgs = if ($Rest.Count -gt 0) { $Rest } else { @('--filter', '*', '--job', 'short') }
            Invoke-Checked 'benchmarks' { dotnet run -c Release --project benchmarks/AdvRobust.Benchmarks -- @benchArgs }
        }
    }
    'setup' { Invoke-Setup }
    'gpu-check' { Invoke-GpuCheck $Rest }
    'demo' {
        Test-FashionMnist $Rest
        Invoke-Build
        Invoke-Checked 'advrobust demo' { dotnet run -c $Configuration --no-build --project src/AdvRobust.Cli -- demo @Rest }
    }
    'loc' { Invoke-Loc }
    'fuzz' { Invoke-Fuzz }
    # ---- CUDA emulator (issue 12 §2-3) ----
    'emulator' { Invoke-Checked 'emulator build' { bash src/AdvRobust.Emulator/build.sh @Rest } }
}
