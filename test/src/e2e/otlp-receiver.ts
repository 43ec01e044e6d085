import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface ReceivedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
}

interface OtlpJson {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value?: { stringValue?: string } }[] };
    scopeSpans?: { spans?: { traceId?: string; spanId?: string; parentSpanId?: string; name?: string }[] }[];
  }[];
}

/**
 * A real OTLP/HTTP receiver (JSON encoding, what the services' exporter sends): it accepts
 * `POST /v1/traces` and `/v1/metrics` and keeps every span it is sent.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  metricPosts = 0;
  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    let receiver: OtlpReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        if (req.url === '/v1/traces' && String(req.headers['content-type']).includes('json'))
          receiver?.collect(JSON.parse(body.toString()) as OtlpJson);
        if (req.url === '/v1/metrics') receiver && receiver.metricPosts++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    if (typeof addr !== 'object' || addr === null) throw new Error('no address');
    receiver = new OtlpReceiver(server, `http://127.0.0.1:${addr.port}`);
    return receiver;
  }

  private collect(doc: OtlpJson): void {
    for (const rs of doc.resourceSpans ?? []) {
      const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue ?? '';
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            service,
            traceId: s.traceId ?? '',
            spanId: s.spanId ?? '',
            parentSpanId: s.parentSpanId ?? '',
            name: s.name ?? '',
          });
        }
      }
    }
  }

  servicesInTrace(traceId: string): Set<string> {
    return new Set(this.spans.filter((s) => s.traceId === traceId).map((s) => s.service));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
