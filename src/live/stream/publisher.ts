/** What the live hub needs from whoever publishes into a stream (RTMP, SRT, WHIP, the cluster relay). */

/** A publishing session as the hub sees it. */
export interface Publisher {
  readonly id: string;
  readonly remote: string;
  /** Close the publishing session (takeover, shutdown). */
  close(reason: string): void;
  /** Ask the encoder for a keyframe (WebRTC PLI); absent when the protocol has no way (RTMP). */
  requestKeyframe?(): void;
  /**
   * Cluster: the node whose stream this publisher relays (the internal relay, src/live/relay);
   * unset for a real publisher. Status writes, webhooks and recording ignore relay publishers.
   */
  readonly relayFrom?: string;
  /**
   * A backup publisher (`?backup=1`, SRT `backup=1`): while a primary is live it waits in the
   * stream's standby slot and is switched to when the primary leaves. Unset: a primary.
   */
  readonly backup?: boolean;
  /** The slate standing in for a publisher that left (slate-feed.ts); unset for every real publisher. */
  readonly slate?: boolean;
}
