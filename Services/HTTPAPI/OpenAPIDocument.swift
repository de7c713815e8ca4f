/// The OpenAPI 3.1 description of every endpoint, served at `GET /openapi.yaml`.
///
/// Written by hand next to the code it describes; the end-to-end tests validate it with
/// openapi-spec-validator. Keep it in step with ``APIRoute`` and the handlers.
enum OpenAPIDocument {
    static let yaml = #"""
        openapi: 3.1.0
        info:
          title: IoTSocket concentrator — HTTP API
          version: 1.0.0
          summary: The central's IoTSocket-over-HTTP API (IoTSocket v1.01) plus REST for operators.
          description: |
            `POST /acl` and `POST /request` are the IoTSocket v1.01 web API, wire-compatible with
            existing centrals. The other endpoints are additive. Every endpoint except the probes,
            `/metrics` and this document requires `Authorization: Bearer <central auth key as 32 hex
            digits>` (case-insensitive). Refusals carry a JSON body `{"error": "...", "field": "..."}`
            where `field` names the input at fault. A response sent before the request body was read
            (401, 404, 405, 413…) closes the connection.
        servers:
          - url: /
        security:
          - centralKey: []
        tags:
          - name: IoTSocket
            description: The IoTSocket-over-HTTP API (PROTOCOL.md).
          - name: Devices
            description: Additive REST for operators and integrators.
          - name: Operations
            description: Probes, metrics and this document.
        paths:
          /acl:
            post:
              tags: [IoTSocket]
              operationId: replaceACL
              summary: Replace the whole ACL.
              description: |
                The list is validated whole before anything is applied: one bad item refuses it all.
                A UID listed twice keeps its last item. Elements that leave the list lose their session.
                Answers once the router has applied it.
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      type: array
                      items: { $ref: '#/components/schemas/ACLItem' }
              responses:
                '200':
                  description: Applied. Empty body.
                '400': { $ref: '#/components/responses/BadRequest' }
                '401': { $ref: '#/components/responses/Unauthorized' }
                '405': { $ref: '#/components/responses/MethodNotAllowed' }
                '413': { $ref: '#/components/responses/ContentTooLarge' }
                '503': { $ref: '#/components/responses/Unavailable' }
          /request:
            post:
              tags: [IoTSocket]
              operationId: sendRequest
              summary: Send a request to an object and wait for its response.
              description: |
                The call is held until the object answers or `Timeout` runs out. `Code` is the
                object's response code, or one the concentrator answered itself with an empty BINARY
                payload: 160 (0xA0) destination not found, 161 (0xA1) timeout, 162 (0xA2) tracking
                number in use. A response payload that does not match its own format is returned as
                BINARY.
              requestBody:
                required: true
                content:
                  application/json:
                    schema: { $ref: '#/components/schemas/CallRequest' }
              responses:
                '200':
                  description: The object's response, or the concentrator's error code.
                  content:
                    application/json:
                      schema: { $ref: '#/components/schemas/CallResponse' }
                '400': { $ref: '#/components/responses/BadRequest' }
                '401': { $ref: '#/components/responses/Unauthorized' }
                '405': { $ref: '#/components/responses/MethodNotAllowed' }
                '413': { $ref: '#/components/responses/ContentTooLarge' }
          /devices:
            get:
              tags: [Devices]
              operationId: listDevices
              summary: The ACL's objects with their presence, one page at a time, ordered by UID.
              parameters:
                - name: offset
                  in: query
                  schema: { type: integer, minimum: 0, default: 0 }
                - name: limit
                  in: query
                  schema: { type: integer, minimum: 1, maximum: 1000, default: 100 }
                - name: group
                  in: query
                  description: Only objects of this group.
                  schema: { type: string }
                - name: status
                  in: query
                  description: Only objects with this status.
                  schema: { $ref: '#/components/schemas/DeviceStatus' }
              responses:
                '200':
                  description: One page.
                  content:
                    application/json:
                      schema: { $ref: '#/components/schemas/DevicePage' }
                '400': { $ref: '#/components/responses/BadRequest' }
                '401': { $ref: '#/components/responses/Unauthorized' }
          /devices/{uid}:
            parameters:
              - name: uid
                in: path
                required: true
                description: The object's UID as text (percent-encoded), 1 to 16 UTF-8 bytes.
                schema: { type: string, minLength: 1, maxLength: 16 }
            get:
              tags: [Devices]
              operationId: getDevice
              summary: One object of the ACL with its presence.
              responses:
                '200':
                  description: The object.
                  content:
                    application/json:
                      schema: { $ref: '#/components/schemas/Device' }
                '400': { $ref: '#/components/responses/BadRequest' }
                '401': { $ref: '#/components/responses/Unauthorized' }
                '404': { $ref: '#/components/responses/NotFound' }
            put:
              tags: [Devices]
              operationId: putDevice
              summary: Add or change one ACL entry without replacing the list.
              requestBody:
                required: true
                content:
                  application/json:
                    schema: { $ref: '#/components/schemas/DeviceUpdate' }
              responses:
                '200':
                  description: Applied; the object as GET answers it.
                  content:
                    application/json:
                      schema: { $ref: '#/components/schemas/Device' }
                '400': { $ref: '#/components/responses/BadRequest' }
                '401': { $ref: '#/components/responses/Unauthorized' }
                '413': { $ref: '#/components/responses/ContentTooLarge' }
                '503': { $ref: '#/components/responses/Unavailable' }
            delete:
              tags: [Devices]
              operationId: deleteDevice
              summary: Remove one ACL entry; the object's session is closed.
              responses:
                '204':
                  description: Removed.
                '400': { $ref: '#/components/responses/BadRequest' }
                '401': { $ref: '#/components/responses/Unauthorized' }
                '404': { $ref: '#/components/responses/NotFound' }
                '503': { $ref: '#/components/responses/Unavailable' }
          /sessions/central:
            get:
              tags: [Devices]
              operationId: getCentralSession
              summary: Whether the central holds a TCP session, where and since when.
              responses:
                '200':
                  description: The central's session.
                  content:
                    application/json:
                      schema: { $ref: '#/components/schemas/CentralSession' }
                '401': { $ref: '#/components/responses/Unauthorized' }
          /applications:
            get:
              tags: [Devices]
              operationId: listApplications
              summary: The webhook applications (the configured request and telemetry URLs) and their status.
              description: |
                Provisioned: activated, nothing sent yet. Running: successful deliveries (occasional
                errors allowed). Inactive: no successful delivery within InactiveAfterSec (2 days).
                Disabled: an operator disabled it (webhook-dispatcher admin endpoint); messages are
                kept for replay. Times are Unix milliseconds.
              responses:
                '200':
                  description: The applications.
                  content:
                    application/json:
                      schema:
                        type: array
                        items:
                          type: object
                          required: [Name, URL, Status]
                          properties:
                            Name: { type: string, enum: [request, telemetry] }
                            URL: { type: string, description: Without credentials. }
                            Status: { type: string, enum: [Provisioned, Running, Inactive, Disabled] }
                            ProvisionedAt: { type: integer }
                            LastSuccessAt: { type: [integer, "null"] }
                            LastErrorAt: { type: [integer, "null"] }
                            LastError: { type: [string, "null"] }
                            Delivered: { type: integer }
                            Failed: { type: integer }
                            RetriesScheduled: { type: integer }
                            DeadLettered: { type: integer }
                            Replayed: { type: integer }
                '401': { $ref: '#/components/responses/Unauthorized' }
          /openapi.yaml:
            get:
              tags: [Operations]
              operationId: getOpenAPI
              summary: This document.
              security: []
              responses:
                '200':
                  description: The OpenAPI 3.1 document.
                  content:
                    application/yaml:
                      schema: { type: string }
          /health:
            get:
              tags: [Operations]
              operationId: health
              summary: Liveness.
              security: []
              responses:
                '200':
                  description: The process runs.
                  content:
                    text/plain:
                      schema: { type: string }
          /ready:
            get:
              tags: [Operations]
              operationId: ready
              summary: Readiness (Redis reachable, reply reader started, listener bound).
              security: []
              responses:
                '200':
                  description: Ready.
                  content:
                    text/plain:
                      schema: { type: string }
                '503':
                  description: Not ready; names the failing checks.
                  content:
                    text/plain:
                      schema: { type: string }
          /metrics:
            get:
              tags: [Operations]
              operationId: metrics
              summary: Prometheus metrics (iots_http_requests_total, iots_http_request_duration_seconds…).
              security: []
              responses:
                '200':
                  description: Text exposition format 0.0.4.
                  content:
                    text/plain:
                      schema: { type: string }
        components:
          securitySchemes:
            centralKey:
              type: http
              scheme: bearer
              description: The central's auth key as 32 hex digits.
          schemas:
            Error:
              type: object
              required: [error]
              properties:
                error: { type: string, description: What is wrong, in words. }
                field:
                  type: string
                  description: The input at fault, e.g. `UID`, `Payload[3]`, `[2].AuthKey`, `Timeout`, `body`, `Authorization`.
            Format:
              type: string
              enum: [JSON, ASCII, UTF8, BINARY]
            Payload:
              description: |
                By Format: JSON → any JSON value; ASCII → a string of ASCII characters; UTF8 → a
                string; BINARY → an array of integers 0–255. At most 65535 bytes once encoded.
            ACLItem:
              type: object
              required: [GroupName, UID, AuthKey]
              properties:
                GroupName: { type: string, minLength: 1, maxLength: 16, description: 1 to 16 UTF-8 bytes (16 characters when ASCII). }
                UID: { type: string, minLength: 1, maxLength: 16, description: 1 to 16 UTF-8 bytes (16 characters when ASCII). }
                AuthKey: { type: string, pattern: '^[0-9A-Fa-f]{32}$' }
            CallRequest:
              type: object
              required: [UID, Payload, Format]
              properties:
                UID: { type: string, minLength: 1, maxLength: 16, description: 1 to 16 UTF-8 bytes (16 characters when ASCII). }
                Timeout:
                  type: [integer, 'null']
                  minimum: 1
                  description: Seconds the object has to answer; capped by HTTPServer.MaxSecWaitResponse, which is also the default (absent or null).
                Payload: { $ref: '#/components/schemas/Payload' }
                Format: { $ref: '#/components/schemas/Format' }
              allOf: [{ $ref: '#/components/schemas/PayloadByFormat' }]
            CallResponse:
              type: object
              required: [Code, Payload, Format]
              properties:
                Code: { type: integer, minimum: 0, maximum: 255 }
                Payload: { $ref: '#/components/schemas/Payload' }
                Format: { $ref: '#/components/schemas/Format' }
              allOf: [{ $ref: '#/components/schemas/PayloadByFormat' }]
            PayloadByFormat:
              description: What Payload must be for each Format.
              allOf:
                - if: { properties: { Format: { const: BINARY } }, required: [Format] }
                  then: { properties: { Payload: { type: array, items: { type: integer, minimum: 0, maximum: 255 } } } }
                - if: { properties: { Format: { enum: [ASCII, UTF8] } }, required: [Format] }
                  then: { properties: { Payload: { type: string } } }
            DeviceStatus:
              type: string
              enum: [online, kept, offline, never-seen]
              description: |
                online: connected now; kept: disconnected or asleep within the keep delay; offline:
                no session now but connected before (see lastSeen); never-seen: never connected
                since the concentrator's Redis holds its data.
            DeviceUpdate:
              type: object
              required: [GroupName, AuthKey]
              properties:
                GroupName: { type: string, minLength: 1, maxLength: 16, description: 1 to 16 UTF-8 bytes (16 characters when ASCII). }
                AuthKey: { type: string, pattern: '^[0-9A-Fa-f]{32}$' }
            Device:
              type: object
              required: [UID, GroupName, status, hasTelemetryToken]
              properties:
                UID: { type: string }
                GroupName: { type: string }
                status: { $ref: '#/components/schemas/DeviceStatus' }
                gateway: { type: [string, 'null'], description: The tcp-gateway instance holding the session. }
                connectionId: { type: [string, 'null'] }
                connectedSince: { type: [string, 'null'], format: date-time }
                remoteAddress: { type: [string, 'null'], description: host:port of the device. }
                keptUntil: { type: [string, 'null'], format: date-time, description: When a kept session is dropped. }
                lastSeen: { type: [string, 'null'], format: date-time, description: Now when online; the disconnect when kept. }
                hasTelemetryToken: { type: boolean }
                telemetryTokenExpiresAt: { type: [string, 'null'], format: date-time, description: Null without a token or without expiry. }
            DevicePage:
              type: object
              required: [total, offset, limit, items]
              properties:
                total: { type: integer, description: Objects matching the filters, on every page. }
                offset: { type: integer }
                limit: { type: integer }
                items:
                  type: array
                  items: { $ref: '#/components/schemas/Device' }
            CentralSession:
              type: object
              required: [connected, status]
              properties:
                connected: { type: boolean }
                status: { $ref: '#/components/schemas/DeviceStatus' }
                gateway: { type: [string, 'null'] }
                connectionId: { type: [string, 'null'] }
                connectedSince: { type: [string, 'null'], format: date-time }
                remoteAddress: { type: [string, 'null'] }
                keptUntil: { type: [string, 'null'], format: date-time }
                lastSeen: { type: [string, 'null'], format: date-time }
          responses:
            BadRequest:
              description: Malformed JSON or fields; `field` names the input at fault.
              content:
                application/json:
                  schema: { $ref: '#/components/schemas/Error' }
            Unauthorized:
              description: Missing or wrong bearer key (with `WWW-Authenticate`).
              headers:
                WWW-Authenticate:
                  schema: { type: string }
              content:
                application/json:
                  schema: { $ref: '#/components/schemas/Error' }
            NotFound:
              description: No such endpoint, or the UID is not in the ACL.
              content:
                application/json:
                  schema: { $ref: '#/components/schemas/Error' }
            MethodNotAllowed:
              description: Wrong method; `Allow` lists the right ones.
              headers:
                Allow:
                  schema: { type: string }
              content:
                application/json:
                  schema: { $ref: '#/components/schemas/Error' }
            ContentTooLarge:
              description: The body is above HTTPServer.MaxContentLength (refused from Content-Length before reading it).
              content:
                application/json:
                  schema: { $ref: '#/components/schemas/Error' }
            Unavailable:
              description: The router did not confirm the change in time.
              content:
                application/json:
                  schema: { $ref: '#/components/schemas/Error' }

        """#
}
