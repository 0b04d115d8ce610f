// WeChat's map pickers answer in GCJ-02 (国测局坐标); intake stores WGS-84, which its distance checks assume.

import type { GeoPoint } from "../api/types";

const SEMI_MAJOR_AXIS = 6378245.0; // Krasovsky 1940, the ellipsoid GCJ-02 is defined on
const ECCENTRICITY_SQUARED = 0.00669342162296594323;

function outsideChina(point: GeoPoint): boolean {
  return point.longitude < 72.004 || point.longitude > 137.8347 || point.latitude < 0.8293 || point.latitude > 55.8271;
}

function shiftLatitude(x: number, y: number): number {
  let shift = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  shift += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  shift += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  shift += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  return shift;
}

function shiftLongitude(x: number, y: number): number {
  let shift = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  shift += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  shift += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  shift += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  return shift;
}

/** The published WGS-84 → GCJ-02 offset; points outside China are not shifted. */
export function wgs84ToGcj02(point: GeoPoint): GeoPoint {
  if (outsideChina(point)) return { ...point };
  const x = point.longitude - 105;
  const y = point.latitude - 35;
  const radians = (point.latitude / 180) * Math.PI;
  const sine = Math.sin(radians);
  const magic = 1 - ECCENTRICITY_SQUARED * sine * sine;
  const root = Math.sqrt(magic);
  const dLat =
    (shiftLatitude(x, y) * 180) / (((SEMI_MAJOR_AXIS * (1 - ECCENTRICITY_SQUARED)) / (magic * root)) * Math.PI);
  const dLon = (shiftLongitude(x, y) * 180) / ((SEMI_MAJOR_AXIS / root) * Math.cos(radians) * Math.PI);
  return { latitude: point.latitude + dLat, longitude: point.longitude + dLon };
}

/** GCJ-02 → WGS-84 by fixed-point iteration of the forward offset: within centimetres after a few rounds. */
export function gcj02ToWgs84(point: GeoPoint): GeoPoint {
  let guess = { ...point };
  for (let round = 0; round < 5; round += 1) {
    const shifted = wgs84ToGcj02(guess);
    guess = {
      latitude: guess.latitude + (point.latitude - shifted.latitude),
      longitude: guess.longitude + (point.longitude - shifted.longitude),
    };
  }
  return guess;
}
