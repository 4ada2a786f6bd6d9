import GRPCCore
import PetrelNet

/// Refuses an RPC without valid credentials in its `authorization` metadata with UNAUTHENTICATED, before any
/// message is read.
struct GRPCAuthInterceptor: ServerInterceptor {
    let authenticator: SourceAuthenticator

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let authorization = request.metadata[stringValues: "authorization"].first { _ in true }
        guard authenticator.authorizes(authorization) else {
            throw RPCError(code: .unauthenticated, message: "missing or invalid credentials")
        }
        return try await next(request, context)
    }
}
