/**
 * Codec parameters read from the decoder configurations a publisher sends once per stream: the
 * RFC 6381 codec strings that HLS `CODECS`, DASH `@codecs` and the API report, and AAC's sample
 * rate and channel count. Every ingest protocol delivers these configurations in the same shape
 * (ISO/IEC 14496-15 and 14496-3 records), so the hub reads them here, not in any one format.
 */

/** `avc1.PPCCLL` from an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1). */
export function avcCodecString(record: Buffer): string {
  if (record.length < 4) return 'avc1';
  return `avc1.${record.subarray(1, 4).toString('hex')}`;
}

/** Codec string, sample rate and channels from an AAC AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1). */
export function aacInfo(asc: Buffer): { codecString: string; sampleRate?: number; channels?: number } {
  if (asc.length < 2) return { codecString: 'mp4a.40.2' };
  const aot = asc[0]! >> 3;
  const idx = ((asc[0]! & 7) << 1) | (asc[1]! >> 7);
  const rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
  return { codecString: `mp4a.40.${aot}`, sampleRate: rates[idx], channels: (asc[1]! >> 3) & 0x0f };
}
