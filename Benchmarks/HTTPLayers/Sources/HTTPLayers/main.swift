import Foundation

// One binary, two roles, so that the driver (`run.py`) can put the server and the load in separate processes and
// read each one's CPU time on its own:
//
//   http-layers serve petrel|hummingbird [--port N]
//       prints `listening PORT`, then serves until it is killed.
//   http-layers load petrel|ahc --url URL [--connections 8] [--duration 10] [--warmup 2] [--series-per-request 1000]
//       posts as fast as the server answers; prints `measuring` when the measured window opens and one JSON line
//       when it closes (requests, seconds, the client's own CPU-seconds), then exits.

let usage = """
    usage: http-layers serve petrel|hummingbird [--port N]
           http-layers load petrel|ahc --url URL [--connections N] [--duration S] [--warmup S]
               [--series-per-request N]
    """

var arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
let role = arguments.removeFirst()
let kind = arguments.removeFirst()
var options: [String: String] = [:]
while let key = arguments.first, key.hasPrefix("--"), arguments.count >= 2 {
    options[String(key.dropFirst(2))] = arguments[1]
    arguments.removeFirst(2)
}

switch (role, kind) {
case ("serve", "petrel"), ("serve", "hummingbird"):
    let port = Int(options["port"] ?? "0") ?? 0
    try await (kind == "petrel" ? servePetrel(port: port) : serveHummingbird(port: port))
case ("load", "petrel"), ("load", "ahc"):
    guard let url = options["url"] else {
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(2)
    }
    let load = Load(
        url: url, connections: Int(options["connections"] ?? "8") ?? 8,
        duration: Double(options["duration"] ?? "10") ?? 10, warmup: Double(options["warmup"] ?? "2") ?? 2,
        seriesPerRequest: Int(options["series-per-request"] ?? "1000") ?? 1000)
    if kind == "petrel" {
        try await load.run(PetrelPoster(url: url, connections: load.connections))
    } else {
        try await load.run(AHCPoster(url: url, connections: load.connections))
    }
default:
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
